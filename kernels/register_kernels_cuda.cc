// The explicit list of CUDA kernel families (CUDA builds). CPU-only: register_kernels_cuda_stub.cc.
#include "kernels/apply/apply.h"
#include "kernels/argmax/argmax.h"
#include "kernels/array/array.h"
#include "kernels/array/concat.h"
#include "kernels/batch_norm/batch_norm.h"
#include "kernels/bias_add/bias_add.h"
#include "kernels/cast/cast.h"
#include "kernels/collective/collective.h"
#include "kernels/conv2d/conv2d_cuda.h"
#include "kernels/fill/fill.h"
#include "kernels/gather/gather.h"
#include "kernels/init/random.h"
#include "kernels/kernel.h"
#include "kernels/lrn/lrn.h"
#include "kernels/math/binary.h"
#include "kernels/math/compare.h"
#include "kernels/matmul/matmul.h"
#include "kernels/pool/pool.h"
#include "kernels/reduce/reduce.h"
#include "kernels/relu/relu.h"
#include "kernels/softmax/softmax.h"
#include "kernels/softmax_xent/softmax_xent.h"

namespace scopeflow::kernels {

void register_cuda_kernels(KernelRegistry& r) {
  register_fill_cuda_kernels(r);
  register_random_cuda_kernels(r);
  register_array_gpu_kernels(r);
  register_concat_cuda_kernels(r);
  register_gather_cuda_kernels(r);
  register_conv2d_cuda_kernels(r);
  register_conv2d_cudnn_kernels(r);
  register_binary_cuda_kernels(r);
  register_relu_cuda_kernels(r);
  register_bias_add_cuda_kernels(r);
  register_pool_cuda_kernels(r);
  register_matmul_cublas_kernels(r);
  register_reduce_cuda_kernels(r);
  register_softmax_xent_cuda_kernels(r);
  register_apply_cuda_kernels(r);
  register_array_cuda_kernels(r);
  register_softmax_cuda_kernels(r);
  register_lrn_cuda_kernels(r);
  register_batch_norm_cuda_kernels(r);
  register_cast_cuda_kernels(r);
  register_compare_cuda_kernels(r);
  register_argmax_cuda_kernels(r);
  register_collective_cuda_kernels(r);
}

}  // namespace scopeflow::kernels
