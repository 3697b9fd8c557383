


#include <boost/python.hpp>
#include <boost/regex.hpp>

#include <string>

#include "caffe/layer.hpp"
#include "caffe/layer_factory.hpp"
#include "caffe/layers/batch_norm_layer.hpp"
#include "caffe/layers/conv_layer.hpp"
#include "caffe/layers/lrn_layer.hpp"
#include "caffe/layers/pooling_layer.hpp"
#include "caffe/layers/relu_layer.hpp"
#include "caffe/layers/sigmoid_layer.hpp"
#include "caffe/layers/softmax_layer.hpp"
#include "caffe/layers/tanh_layer.hpp"
#include "caffe/layers/dropout_layer.hpp"
#include "caffe/layers/detectnet_transform_layer.hpp"
#include "caffe/layers/data_layer.hpp"
#include "caffe/layers/memory_data_layer.hpp"
#include "caffe/layers/image_data_layer.hpp"
#include "caffe/layers/window_data_layer.hpp"


#include "caffe/layers/cudnn_batch_norm_layer.hpp"
#include "caffe/layers/cudnn_conv_layer.hpp"
#include "caffe/layers/cudnn_lcn_layer.hpp"
#include "caffe/layers/cudnn_lrn_layer.hpp"
#include "caffe/layers/cudnn_pooling_layer.hpp"
#include "caffe/layers/cudnn_relu_layer.hpp"
#include "caffe/layers/cudnn_sigmoid_layer.hpp"
#include "caffe/layers/cudnn_softmax_layer.hpp"
#include "caffe/layers/cudnn_tanh_layer.hpp"
#include "caffe/layers/cudnn_dropout_layer.hpp"



#include "caffe/layers/python_layer.hpp"






























































































































































































































































































shared_ptr<LayerBase> GetPythonLayer(const LayerParameter& param, Type, Type, size_t) {
  try {
    const string& module_name = param.python_param().module();
    const string& layer_name = param.python_param().layer();
    // Check injection. This allows nested import.
    boost::regex expression("[a-zA-Z_][a-zA-Z0-9_]*(\\.[a-zA-Z_][a-zA-Z0-9_]*)*");
    CHECK(boost::regex_match(module_name, expression))
        << "Module name is invalid: " << module_name;
    CHECK(boost::regex_match(layer_name, expression))
        << "Layer name is invalid: " << layer_name;

    PyGILAquire gil;
    LOG(INFO) << "Importing Python module '" << module_name << "'";
    bp::object module = bp::import(module_name.c_str());
    bp::object layer = module.attr(layer_name.c_str())(param);
    shared_ptr<LayerBase> ret = bp::extract<shared_ptr<LayerBase>>(layer)();
    CHECK(ret);
    return ret;
//    bp::object globals = bp::import("__main__").attr("__dict__");
//    bp::exec(("import " + module_name).c_str(), globals, globals);
//    bp::object layer_class = bp::eval((module_name + "." + layer_name).c_str(), globals, globals);
//    bp::object layer = layer_class(param);
//    return bp::extract<shared_ptr<LayerBase>>(layer)();
  } catch (...) {
    PyErrFatal();
  }
}

REGISTER_LAYER_CREATOR(Python, GetPythonLayer);
