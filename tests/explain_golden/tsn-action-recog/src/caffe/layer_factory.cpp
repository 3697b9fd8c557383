#include <string>

#include "caffe/layer.hpp"
#include "caffe/layer_factory.hpp"
#include "caffe/proto/caffe.pb.h"
#include "caffe/vision_layers.hpp"


#include "caffe/python_layer.hpp"



#include "caffe/util/cudnn.hpp"































































































































































































template <typename Dtype>
shared_ptr<Layer<Dtype> > GetPythonLayer(const LayerParameter& param) {
  boost::lock_guard<boost::mutex> lock(mtx_);
  if (Caffe::py_tstate() == NULL){
    Py_Initialize();
    PyEval_InitThreads();
    PyThreadState* tstate = PyEval_SaveThread();
    Caffe::set_py_tstate(tstate);
  }
  PyGILState_STATE state;
  state = PyGILState_Ensure();
  try {

    bp::object module = bp::import(param.python_param().module().c_str());
    bp::object layer = module.attr(param.python_param().layer().c_str())(param);
    return bp::extract<shared_ptr<PythonLayer<Dtype> > >(layer)();
  } catch (bp::error_already_set) {
    PyErr_Print();
    throw;
  }
  PyGILState_Release(state);
}

REGISTER_LAYER_CREATOR(Python, GetPythonLayer);
