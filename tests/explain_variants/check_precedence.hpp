// The CHECK_EQ statement is from BVLC/caffe, branch opencl (3f2b97e93ed5ab612b6d00995294e37a422f0931),
// src/caffe/layers/conv_layer_spatial.cpp:393; the class around it is only its frame.
template <typename Dtype>
class SwizzleLayer : public Layer<Dtype> {
 protected:
  virtual void Forward_cpu(const vector<Blob<Dtype>*>& bottom, const vector<Blob<Dtype>*>& top) {
    CHECK_EQ(tmpSwizzledWeight != NULL, true)
      << "Failed to allocate temporary swizzled weight";
  }
};
