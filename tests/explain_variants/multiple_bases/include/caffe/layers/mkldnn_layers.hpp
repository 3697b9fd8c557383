







































#include <string>
#include <vector>

#include "boost/enable_shared_from_this.hpp"
#include "caffe/blob.hpp"
#include "caffe/common.hpp"
#include "caffe/engine_parser.hpp"
#include "caffe/layers/base_conv_layer.hpp"
#include "caffe/layers/conv_layer.hpp"
#include "caffe/layers/inner_product_layer.hpp"
#include "caffe/layers/neuron_layer.hpp"
#include "caffe/proto/caffe.pb.h"
#include "caffe/mkldnn_memory.hpp"
#include "mkldnn.hpp"

#include "caffe/util/performance.hpp"





































































































template <typename Dtype>
class MKLDNNConvolutionLayer : public MKLDNNLayer<Dtype> , public ConvolutionLayer<Dtype> {
public:
    explicit MKLDNNConvolutionLayer(const LayerParameter& param);
    virtual ~MKLDNNConvolutionLayer() {}

    //For test the parameters of kernel/stride/pad
    int GetKernelWidth()  { return kernel_w_; }
    int GetKernelHeight() { return kernel_h_; }
    int GetKernelDepth()  { return kernel_d_; }

    int GetStrideWidth()  { return stride_w_; }
    int GetStrideHeight() { return stride_h_; }
    int GetStrideDepth()  { return stride_d_; }

    int GetPadWidth()     { return pad_w_; }
    int GetPadHeight()    { return pad_h_; }
    int GetPadDepth()     { return pad_d_; }
protected:
    virtual void Forward_cpu(const vector<Blob<Dtype>*>& bottom, const vector<Blob<Dtype>*>& top);
    virtual void Forward_gpu(const vector<Blob<Dtype>*>& bottom, const vector<Blob<Dtype>*>& top);
    virtual void Backward_cpu(const vector<Blob<Dtype>*>& top, const vector<bool>& propagate_down
                                , const vector<Blob<Dtype>*>& bottom);
    virtual void Backward_gpu(const vector<Blob<Dtype>*>& top, const vector<bool>& propagate_down
                                , const vector<Blob<Dtype>*>& bottom);
    // Customized methods
    virtual void LayerSetUp(const vector<Blob<Dtype>*>& bottom, const vector<Blob<Dtype>*>& top);
    void Reshape(const vector<Blob<Dtype>*>& bottom, const vector<Blob<Dtype>*>& top);
private:
    virtual void compute_output_shape();
    virtual void init_properties(const vector<Blob<Dtype>*>& bottom, const vector<Blob<Dtype>*>& top);
    void InitConvolutionFwd(const vector<Blob<Dtype>*>& bottom, const vector<Blob<Dtype>*>& top);
    void InitConvolutionBwd(const vector<Blob<Dtype>*>& top
                        , const vector<bool>& propagate_down
                        , const vector<Blob<Dtype>*>& bottom);

    shared_ptr<MKLDNNData<Dtype> > fwd_bottom_data, fwd_top_data, fwd_weights_data, fwd_bias_data
                    , bwdd_weights_data, bwdw_bottom_data;
    shared_ptr<MKLDNNDiff<Dtype> > bwdd_bottom_diff, bwdd_top_diff
                    , bwdw_top_diff, bwdw_weights_diff, bwdw_bias_diff;
    shared_ptr<convolution_forward::primitive_desc> convFwd_pd;
    shared_ptr<convolution_backward_data::primitive_desc> convBwdData_pd;
    shared_ptr<convolution_backward_weights::primitive_desc> convBwdWeights_pd;
    MKLDNNPrimitive<Dtype> convFwd, convBwdData, convBwdWeights;
    shared_ptr<memory> fwd_top_data_memory, bwdd_bottom_diff_memory
                    , bwdw_weights_diff_memory,  bwdw_bias_diff_memory;
    shared_ptr<primitive> fwd_bottom_data_primitive, fwd_weights_data_primitive, fwd_bias_data_primitive
                    , bwdd_top_diff_primitive, bwdd_weights_data_primitive
                    , bwdw_top_diff_primitive, bwdw_bottom_data_primitive;
    int32_t width_, height_, depth_, width_out_, height_out_, depth_out_, kernel_w_, kernel_h_, kernel_d_, stride_w_, stride_h_, stride_d_;
    int  pad_w_, pad_h_, pad_d_;
    mkldnn::algorithm  conv_algorithm;

    /* In case of (iter_size > 1) we need additional buffers */
    shared_ptr<MKLDNNDiff<Dtype> > bwdw_weights_diff_iter, bwdw_bias_diff_iter;
    shared_ptr<memory> bwdw_weights_diff_memory_iter, bwdw_bias_diff_memory_iter;
    shared_ptr<Blob<Dtype> > bwdw_weights_diff_iter_blob, bwdw_bias_diff_iter_blob;

    PERFORMANCE_EVENT_ID_DECL(perf_id_fw_);
    PERFORMANCE_EVENT_ID_DECL(perf_id_bw_);
    PERFORMANCE_EVENT_ID_DECL(perf_id_bw_weights_);
};
