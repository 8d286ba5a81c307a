// The kernel table of one ISA variant; compiled once per ISA.
#include "kernel_table.h"
#include "kernels.h"

#define NK_STR2(x) #x
#define NK_STR(x) NK_STR2(x)

namespace nk {
namespace NK_ISA_NAMESPACE {

const kernel_table &kernels() {
    static const kernel_table table = {
        NK_STR(NK_ISA_NAMESPACE),
        scale_shift,
        transpose_images,
        instance_norm_forward_training,
        instance_norm_forward_inference,
        instance_norm_backward,
        batch_norm_forward_training,
        batch_norm_forward_inference,
        batch_norm_backward,
        group_norm_forward,
        group_norm_backward,
        layer_norm_forward,
        layer_norm_backward,
        ws_forward,
        ws_backward,
        winograd_forward,
        winograd_backward_weights,
    };
    return table;
}

}  // namespace NK_ISA_NAMESPACE
}  // namespace nk
