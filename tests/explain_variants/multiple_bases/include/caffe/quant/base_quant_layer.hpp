









































#include "caffe/proto/caffe.pb.h"



template <typename Dtype>
class BaseQuantLayer{
 public:
  explicit BaseQuantLayer();
 protected:
  int bw_params_, bw_layer_in_, bw_layer_out_;
  vector<int> fl_params_, fl_layer_in_, fl_layer_out_;
  vector<float> scale_params_, scale_in_, scale_out_; // min_in_;
  int rounding_, precision_;
  bool need_quantize_;
};
