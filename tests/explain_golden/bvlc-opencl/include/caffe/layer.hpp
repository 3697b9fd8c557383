


#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "backend/device_kernel.hpp"
#include "backend/device_program.hpp"
#include "caffe/blob.hpp"
#include "caffe/common.hpp"
#include "caffe/definitions.hpp"
#include "caffe/layer_factory.hpp"
#include "caffe/quantizer.hpp"
#include "caffe/proto/caffe.pb.h"
#include "caffe/util/math_functions.hpp"
#include "caffe/quantizer_creator.hpp"

#include "caffe/backend/backend.hpp"
#include "caffe/backend/device.hpp"
#include "caffe/backend/opencl/caffe_opencl.hpp"
#include "caffe/backend/cuda/caffe_cuda.hpp"









class LayerBase {























































  virtual inline int_tp ExactNumBottomBlobs() const {
    return -1;
  }







  virtual inline int_tp MinBottomBlobs() const {
    return -1;
  }







  virtual inline int_tp MaxBottomBlobs() const {
    return -1;
  }







  virtual inline int_tp ExactNumTopBlobs() const {
    return -1;
  }







  virtual inline int_tp MinTopBlobs() const {
    return -1;
  }







  virtual inline int_tp MaxTopBlobs() const {
    return -1;
  }







  virtual inline bool EqualNumBottomTopBlobs() const {
    return false;
  }









  virtual inline bool AutoTopBlobs() const {
    return false;
  }
















































































};











template<typename Dtype, typename MItype, typename MOtype>
class Layer : public LayerBase {

















































































































  virtual void SetUp(const vector<BlobBase*>& bottom,
      const vector<BlobBase*>& top) {
    vector<Blob<MItype>*> cast_bottom;
    vector<Blob<MOtype>*> cast_top;
    for (size_t i = 0; i < bottom.size(); ++i) {
      cast_bottom.push_back(static_cast<Blob<MItype>*>(bottom[i]));
    }
    for (size_t i = 0; i < top.size(); ++i) {
      cast_top.push_back(static_cast<Blob<MOtype>*>(top[i]));
    }
    SetUp(cast_bottom, cast_top);
  }

  void SetUp(const vector<Blob<MItype>*>& bottom,
      const vector<Blob<MOtype>*>& top) {
    CheckBlobCounts(bottom, top);
    LayerSetUp(bottom, top);
    Reshape(bottom, top);
    SetLossWeights(top);
  }































































  virtual void Forward(const vector<BlobBase*>& bottom,
                       const vector<BlobBase*>& top,
                       void* out_loss) {
    vector<Blob<MItype>*> cast_bottom;
    vector<Blob<MOtype>*> cast_top;
    for (size_t i = 0; i < bottom.size(); ++i) {
      cast_bottom.push_back(static_cast<Blob<MItype>*>(bottom[i]));
    }
    for (size_t i = 0; i < top.size(); ++i) {
      cast_top.push_back(static_cast<Blob<MOtype>*>(top[i]));
    }
    Dtype layer_loss = this->Forward(cast_bottom, cast_top);
    if (out_loss != nullptr) {
      net_quant_->Backward_cpu(1, static_cast<void*>(&layer_loss), out_loss);
    }
  }

  virtual void Backward(const vector<BlobBase*>& top,
                       const vector<bool>& propagate_down,
                       const vector<BlobBase*>& bottom) {
    vector<Blob<MItype>*> cast_bottom;
    vector<Blob<MOtype>*> cast_top;
    for (size_t i = 0; i < bottom.size(); ++i) {
      cast_bottom.push_back(static_cast<Blob<MItype>*>(bottom[i]));
    }
    for (size_t i = 0; i < top.size(); ++i) {
      cast_top.push_back(static_cast<Blob<MOtype>*>(top[i]));
    }
    this->Backward(cast_top, propagate_down, cast_bottom);
  }





























































































































































  virtual void Forward_gpu(const vector<Blob<MItype>*>& bottom,
                           const vector<Blob<MOtype>*>& top) {
    // LOG(WARNING) << "Using CPU code as backup.";
    Forward_cpu(bottom, top);
  }













  virtual void Backward_gpu(const vector<Blob<MOtype>*>& top,
                            const vector<bool>& propagate_down,
                            const vector<Blob<MItype>*>& bottom) {
    // LOG(WARNING) << "Using CPU code as backup.";
    Backward_cpu(top, propagate_down, bottom);
  }











































































};  // class Layer




template<typename Dtype, typename MItype, typename MOtype>
inline Dtype Layer<Dtype, MItype, MOtype>::Forward(
    const vector<Blob<MItype>*>& bottom,
    const vector<Blob<MOtype>*>& top) {
  Dtype loss = 0;
  Reshape(bottom, top);
  for (int_tp bottom_id = 0; bottom_id < bottom.size(); ++bottom_id) {
    if (bottom_quants_.size() > 0) {
      // Observe values needed for quantization if necessary
      bottom_quants_[bottom_id % bottom_quants_.size()]
            ->ObserveIn(bottom[bottom_id]->count(), bottom[bottom_id]->data());
      // Run pseudo quantization if necessary
      bottom_quants_[bottom_id % bottom_quants_.size()]
            ->PseudoQuantIn(bottom[bottom_id]->count(),
                            bottom[bottom_id]->data(),
                            bottom[bottom_id]->data());
    }
  }
  switch (Caffe::mode()) {
    case Caffe::CPU:
      Forward_cpu(bottom, top);
      for (int_tp top_id = 0; top_id < top.size(); ++top_id) {
        if (!this->loss(top_id)) {
          continue;
        }
        const int_tp count = top[top_id]->count();
        const MOtype* data = top[top_id]->cpu_data();
        const MOtype* loss_weights = top[top_id]->cpu_diff();
        loss += caffe_dot(count, data, loss_weights);
      }
      break;
    case Caffe::GPU:
      Forward_gpu(bottom, top);
#ifndef CPU_ONLY
      for (int_tp top_id = 0; top_id < top.size(); ++top_id) {
        if (!this->loss(top_id)) {
          continue;
        }
        const int_tp count = top[top_id]->count();
        vptr<const MOtype> data = top[top_id]->gpu_data();
        vptr<const MOtype> loss_weights = top[top_id]->gpu_diff();
        MOtype blob_loss = 0;
        device_->template dot<MOtype>(count, data, loss_weights, &blob_loss);
        // TODO: Type conversion may be necessary
        // TODO: Compute on CPU if Forward_gpu uses CPU fallback?
        loss += blob_loss;
      }
#endif  // !CPU_ONLY
    break;
  default:
    LOG(FATAL) << "Unknown caffe mode.";
  }
  for (int_tp top_id = 0; top_id < top.size(); ++top_id) {
    if (top_quants_.size() > 0) {
      top_quants_[top_id % top_quants_.size()]
                       ->ObserveOut(top[top_id]->count(), top[top_id]->data());
      top_quants_[top_id % top_quants_.size()]
            ->PseudoQuantOut(top[top_id]->count(),
                             top[top_id]->data(),
                             top[top_id]->data());
    }
  }
  for (int_tp blob_id = 0; blob_id < blobs_.size(); ++blob_id) {
    if (blobs_quants_.size() > 0) {
      blobs_quants_[blob_id % blobs_quants_.size()]
               ->ObserveOut(blobs_[blob_id]->count(), blobs_[blob_id]->data());
    }
  }
  return loss;
}

template<typename Dtype, typename MItype, typename MOtype>
inline void Layer<Dtype, MItype, MOtype>::Backward(
                      const vector<Blob<MOtype>*>& top,
                      const vector<bool>& propagate_down,
                      const vector<Blob<MItype>*>& bottom) {
  // Disable quantization observer on backward pass
  /*for (int_tp top_id = 0; top_id < top.size(); ++top_id) {
    if (top_quants_.size() > 0) {
      top_quants_[top_id % top_quants_.size()]
                       ->ObserveOut(top[top_id]->count(), top[top_id]->diff());
    }
  }*/
  switch (Caffe::mode()) {
    case Caffe::CPU:
      Backward_cpu(top, propagate_down, bottom);
      break;
    case Caffe::GPU:
      Backward_gpu(top, propagate_down, bottom);
      break;
    default:
      LOG(FATAL)<< "Unknown caffe mode.";
  }
  // Disable quantization observer on backward pass
  /*for (int_tp bottom_id = 0; bottom_id < bottom.size(); ++bottom_id) {
    if (top_quants_.size() > 0) {
      bottom_quants_[bottom_id % bottom_quants_.size()]
            ->ObserveIn(bottom[bottom_id]->count(), bottom[bottom_id]->diff());
    }
  }
  for (int_tp blob_id = 0; blob_id < blobs_.size(); ++blob_id) {
    if (blobs_quants_.size() > 0) {
      blobs_quants_[blob_id % blobs_quants_.size()]
               ->ObserveOut(blobs_[blob_id]->count(), blobs_[blob_id]->diff());
    }
  }*/
}
