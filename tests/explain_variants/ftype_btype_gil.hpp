// Two-type layers (forward and backward types), override, a GIL RAII helper, ShareInParallel guard.
#ifndef CAFFE_PYTHON_LAYER_HPP_
#define CAFFE_PYTHON_LAYER_HPP_

#include <boost/python.hpp>
#include <vector>

#include "caffe/layer.hpp"

namespace bp = boost::python;

namespace caffe {

class PyGILAcquire {
 public:
  PyGILAcquire() { state_ = PyGILState_Ensure(); }
  ~PyGILAcquire() { PyGILState_Release(state_); }
 private:
  PyGILState_STATE state_;
};

template <typename Ftype, typename Btype>
class PythonLayer : public Layer<Ftype, Btype> {
 public:
  PythonLayer(PyObject* self, const LayerParameter& param)
      : Layer<Ftype, Btype>(param), self_(bp::handle<>(bp::borrowed(self))) { }

  void LayerSetUp(const vector<Blob*>& bottom, const vector<Blob*>& top) override {
    PyGILAcquire gil;
    // Disallow PythonLayer in MultiGPU training stage, due to GIL issues
    if (this->phase_ == TRAIN && Caffe::solver_count() > 1
        && !ShareInParallel()) {
      LOG(FATAL) << "PythonLayer is not implemented in Multi-GPU training";
    }
    self_.attr("param_str") = bp::str(
        this->layer_param_.python_param().param_str());
    self_.attr("phase") = static_cast<int>(this->phase_);
    self_.attr("setup")(bottom, top);
  }
  void Reshape(const vector<Blob*>& bottom, const vector<Blob*>& top) override {
    PyGILAcquire gil;
    self_.attr("reshape")(bottom, top);
  }

  inline bool ShareInParallel() const override {
    return false;
  }

  const char* type() const override { return "Python"; }

 protected:
  void Forward_cpu(const vector<Blob*>& bottom, const vector<Blob*>& top) override {
    PyGILAcquire gil;
    self_.attr("forward")(bottom, top);
  }
  void Backward_cpu(const vector<Blob*>& top, const vector<bool>& propagate_down,
      const vector<Blob*>& bottom) override {
    PyGILAcquire gil;
    self_.attr("backward")(top, propagate_down, bottom);
  }

 private:
  bp::object self_;
};

}  // namespace caffe

#endif
