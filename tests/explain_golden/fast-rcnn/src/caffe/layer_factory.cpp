#include <string>

#include "caffe/layer.hpp"
#include "caffe/layer_factory.hpp"
#include "caffe/proto/caffe.pb.h"
#include "caffe/vision_layers.hpp"


#include <boost/regex.hpp>
#include "caffe/python_layer.hpp"























































































































































template <typename Dtype>
shared_ptr<Layer<Dtype> > GetPythonLayer(const LayerParameter& param) {
  string module_name = param.python_param().module();
  string layer_name = param.python_param().layer();
  // Check injection. This allows nested import.
  boost::regex expression("[a-zA-Z_][a-zA-Z0-9_]*"
    "(\\.[a-zA-Z_][a-zA-Z0-9_]*)*");
  CHECK(boost::regex_match(module_name, expression))
    << "Module name is invalid: " << module_name;
  CHECK(boost::regex_match(layer_name, expression))
    << "Layer name is invalid: " << layer_name;
  Py_Initialize();
  try {
    bp::object globals = bp::import("__main__").attr("__dict__");
    bp::exec(("import " + module_name).c_str(), globals, globals);
    bp::object layer_class = bp::eval((module_name + "." + layer_name).c_str(),
      globals, globals);
    bp::object layer = layer_class(param);
    return bp::extract<shared_ptr<PythonLayer<Dtype> > >(layer)();
  } catch (bp::error_already_set) {
    PYTHON_LAYER_ERROR();
  }
}

REGISTER_LAYER_CREATOR(Python, GetPythonLayer);
