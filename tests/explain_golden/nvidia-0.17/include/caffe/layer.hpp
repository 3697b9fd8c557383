


#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

#include "caffe/blob.hpp"
#include "caffe/common.hpp"
#include "caffe/layer_factory.hpp"
#include "caffe/proto/caffe.pb.h"
#include "caffe/util/device_alternate.hpp"



#include "caffe/util/cudnn.hpp"

























class LayerBase {































  void SetUp(const vector<Blob*>& bottom, const vector<Blob*>& top) {
    CheckBlobCounts(bottom, top);
    LayerSetUp(bottom, top);
    Reshape(bottom, top);
    SetLossWeights(top);
  }



































































































  virtual inline int ExactNumBottomBlobs() const { return -1; }








  virtual inline int MinBottomBlobs() const { return -1; }








  virtual inline int MaxBottomBlobs() const { return -1; }








  virtual inline int ExactNumTopBlobs() const { return -1; }








  virtual inline int MinTopBlobs() const { return -1; }








  virtual inline int MaxTopBlobs() const { return -1; }








  virtual inline bool EqualNumBottomTopBlobs() const { return false; }









  virtual inline bool AutoTopBlobs() const { return false; }











































































































































































































































};  // class LayerBase


template<typename Ftype, typename Btype>
class Layer : public LayerBase {





























  virtual void Forward_gpu(const vector<Blob*>& bottom, const vector<Blob*>& top) {
    Forward_cpu(bottom, top);
  }













  virtual void Backward_gpu(const vector<Blob*>& top, const vector<bool>& propagate_down,
      const vector<Blob*>& bottom) {
    Backward_cpu(top, propagate_down, bottom);
  }


























};  // class Layer




template<typename Ftype, typename Btype>
inline float Layer<Ftype, Btype>::Forward(const vector<Blob*>& bottom, const vector<Blob*>& top) {
  // Lock during forward to ensure sequential forward
  Lock();
  float lloss = 0.F;
  Reshape(bottom, top);
  if (Caffe::mode() == Caffe::CPU || is_enforced_cpu()) {
    Forward_cpu(bottom, top);
    for (int top_id = 0; top_id < top.size(); ++top_id) {
      if (this->loss(top_id) == 0.F) { continue; }
      const int count = top[top_id]->count();
      const Ftype* data = top[top_id]->cpu_data<Ftype>();
      const Ftype* loss_weights = top[top_id]->cpu_diff<Ftype>();
      lloss += caffe_cpu_dot(count, data, loss_weights);
    }
  } else {
    Forward_gpu(bottom, top);
    for (int top_id = 0; top_id < top.size(); ++top_id) {
      if (this->loss(top_id) == 0.F) { continue; }
      const int count = top[top_id]->count();
      float blob_loss = 0.F;
      if (count < 4) {
        const Ftype* data = top[top_id]->cpu_data<Ftype>();
        const Ftype* loss_weights = top[top_id]->cpu_diff<Ftype>();
        for (int i = 0; i < count; ++i) {
          blob_loss += (float) data[i] * (float) loss_weights[i];
//          if (std::isnan(blob_loss) || std::isinf(blob_loss)) {
//            LOG(ERROR) << " ****** Forward GPU Layer '" << name() << "' of type " << type()
//                       << ", FT " << Type_Name(forward_type()) << " BT "
//                       << Type_Name(backward_type()) << " iter " << this->iter()
//                       << " returned loss: " << lloss << " count: " << count << " blob_loss: "
//                       << blob_loss;
//            return blob_loss;
//          }
        }
      } else {
        const Ftype* data = top[top_id]->gpu_data<Ftype>();
        const Ftype* loss_weights = top[top_id]->gpu_diff<Ftype>();
        caffe_gpu_dot(count, data, loss_weights, &blob_loss);
      }
      lloss += blob_loss;
    }
  }
  Unlock();
  return lloss;
}

template<typename Ftype, typename Btype>
inline void
Layer<Ftype, Btype>::Backward(const vector<Blob*>& top, const vector<bool>& propagate_down,
    const vector<Blob*>& bottom) {
  if (Caffe::mode() == Caffe::CPU || is_enforced_cpu()) {
    Backward_cpu(top, propagate_down, bottom);
  } else {
    Backward_gpu(top, propagate_down, bottom);
  }
}
