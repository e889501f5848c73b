// The explicit list of CPU kernel families. GPU: register_kernels_cuda.cc.
#include "kernels/apply/apply.h"
#include "kernels/argmax/argmax.h"
#include "kernels/array/array.h"
#include "kernels/array/concat.h"
#include "kernels/batch_norm/batch_norm.h"
#include "kernels/bias_add/bias_add.h"
#include "kernels/cast/cast.h"
#include "kernels/collective/collective.h"
#include "kernels/conv2d/conv2d.h"
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

void register_cpu_kernels(KernelRegistry& r) {
  register_fill_cpu_kernels(r);
  register_random_cpu_kernels(r);
  register_binary_cpu_kernels(r);
  register_array_cpu_kernels(r);
  register_concat_cpu_kernels(r);
  register_gather_cpu_kernels(r);
  register_relu_cpu_kernels(r);
  register_bias_add_cpu_kernels(r);
  register_conv2d_cpu_kernels(r);
  register_pool_cpu_kernels(r);
  register_matmul_cpu_kernels(r);
  register_reduce_cpu_kernels(r);
  register_softmax_xent_cpu_kernels(r);
  register_apply_cpu_kernels(r);
  register_softmax_cpu_kernels(r);
  register_lrn_cpu_kernels(r);
  register_batch_norm_cpu_kernels(r);
  register_cast_cpu_kernels(r);
  register_compare_cpu_kernels(r);
  register_argmax_cpu_kernels(r);
  register_collective_cpu_kernels(r);
}

}  // namespace scopeflow::kernels
