#include "op_allowlist.h"

#include <unordered_set>

namespace localleap {
namespace {

// Derived from the graphs of tools/export.py (manual attention on torch 1.13, SDPA on 2.x) and
// tools/export_hf.py (LLaDA, Dream) archives, plus a generous set of pure tensor operators so that
// other dLLM architectures load. Everything here computes on tensors and scalars in memory.
const char* const kAllowed[] = {
    // ---- TorchScript structure and control flow ----
    "prim::Constant", "prim::GetAttr", "prim::If", "prim::Loop", "prim::CallMethod", "prim::CallFunction",
    "prim::ListConstruct", "prim::ListUnpack", "prim::TupleConstruct", "prim::TupleUnpack", "prim::TupleIndex",
    "prim::DictConstruct", "prim::DictIndex", "prim::RaiseException", "prim::Uninitialized", "prim::unchecked_cast",
    "prim::unchecked_unwrap_optional", "prim::isinstance", "prim::EnumValue", "prim::EnumName",
    "prim::NumToTensor", "prim::ImplicitTensorToNum", "prim::device", "prim::dtype", "prim::layout", "prim::shape",
    "prim::is_cuda", "prim::is_cpu", "prim::is_meta", "prim::data", "prim::requires_grad", "prim::min", "prim::max",
    "prim::abs", "prim::BroadcastSizes", "prim::ConstantChunk", "prim::tolist", "prim::AutogradZero",
    "prim::AutogradAdd", "prim::StringIndex", "prim::ListIndex",
    // ---- scalars, lists, dicts, strings (TorchScript builtins) ----
    "aten::__getitem__", "aten::__is__", "aten::__isnot__", "aten::__not__", "aten::__and__", "aten::__or__",
    "aten::__xor__", "aten::__contains__", "aten::__range_length", "aten::__derive_index", "aten::__lshift__",
    "aten::__rshift__", "aten::__round_to_zero_floordiv", "aten::len", "aten::size", "aten::dim", "aten::numel",
    "aten::Int", "aten::Float", "aten::Bool", "aten::ScalarImplicit", "aten::IntImplicit", "aten::FloatImplicit",
    "aten::append", "aten::extend", "aten::insert", "aten::pop", "aten::list", "aten::copy", "aten::reverse",
    "aten::count", "aten::index", "aten::clear", "aten::_set_item", "aten::dict", "aten::keys", "aten::values",
    "aten::items", "aten::get", "aten::setdefault", "aten::str", "aten::format", "aten::join", "aten::split",
    "aten::startswith", "aten::endswith", "aten::lower", "aten::upper", "aten::strip", "aten::replace",
    "aten::warn", "aten::device", "aten::floordiv", "aten::remainder", "aten::fmod", "aten::divmod",
    "aten::floor", "aten::ceil", "aten::round", "aten::trunc", "aten::abs", "aten::neg", "aten::sqrt",
    "aten::log", "aten::log2", "aten::log10", "aten::log1p", "aten::exp", "aten::expm1", "aten::pow", "aten::eq",
    "aten::ne", "aten::lt", "aten::le", "aten::gt", "aten::ge", "aten::add", "aten::sub", "aten::mul", "aten::div",
    "aten::min", "aten::max", "aten::is_floating_point", "aten::is_complex", "aten::item", "aten::tolist",
    "aten::isnan", "aten::isinf", "aten::isfinite", "aten::sin", "aten::cos", "aten::tan", "aten::asin",
    "aten::acos", "aten::atan", "aten::atan2", "aten::sinh", "aten::cosh", "aten::tanh", "aten::gcd",
    "aten::factorial", "aten::erf", "aten::erfc", "aten::gamma", "aten::lgamma", "aten::hypot", "aten::copysign",
    "aten::mathremainder", "aten::radians", "aten::degrees", "aten::sum", "aten::any", "aten::all",
    // ---- tensor creation (in memory) ----
    "aten::tensor", "aten::as_tensor", "aten::scalar_tensor", "aten::zeros", "aten::ones", "aten::full",
    "aten::empty", "aten::zeros_like", "aten::ones_like", "aten::full_like", "aten::empty_like", "aten::rand",
    "aten::randn", "aten::randint", "aten::rand_like", "aten::randn_like", "aten::arange", "aten::linspace",
    "aten::logspace", "aten::eye", "aten::tril_indices", "aten::triu_indices", "aten::new_zeros",
    "aten::new_ones", "aten::new_full", "aten::new_empty", "aten::new_tensor", "aten::clone", "aten::detach",
    "aten::contiguous", "aten::to", "aten::type_as", "aten::cpu", "aten::cuda", "aten::float", "aten::half",
    "aten::bfloat16", "aten::double", "aten::long", "aten::bool", "aten::requires_grad_", "aten::alias",
    // ---- shape and indexing (views that stay inside their storage) ----
    "aten::view", "aten::view_as", "aten::reshape", "aten::reshape_as", "aten::flatten", "aten::unflatten",
    "aten::squeeze", "aten::unsqueeze", "aten::transpose", "aten::permute", "aten::t", "aten::expand",
    "aten::expand_as", "aten::repeat", "aten::repeat_interleave", "aten::slice", "aten::select", "aten::narrow",
    "aten::chunk", "aten::split_with_sizes", "aten::tensor_split", "aten::unbind", "aten::cat", "aten::concat",
    "aten::stack", "aten::hstack", "aten::vstack", "aten::flip", "aten::roll", "aten::index_select", "aten::index_copy", "aten::index_copy_",
    "aten::gather", "aten::scatter", "aten::scatter_add", "aten::index_put", "aten::index_put_",
    "aten::masked_select", "aten::masked_fill", "aten::masked_fill_", "aten::masked_scatter", "aten::where",
    "aten::nonzero", "aten::take_along_dim", "aten::movedim", "aten::swapaxes", "aten::swapdims",
    "aten::diagonal", "aten::diag", "aten::tril", "aten::triu", "aten::pad", "aten::constant_pad_nd",
    "aten::broadcast_to", "aten::broadcast_tensors", "aten::meshgrid", "aten::one_hot", "aten::embedding",
    "aten::numpy_T", "aten::mT", "aten::unfold", "aten::split", "aten::sort", "aten::argsort", "aten::topk",
    "aten::cumsum", "aten::cumprod", "aten::searchsorted", "aten::bucketize",
    // ---- elementwise math ----
    "aten::add_", "aten::sub_", "aten::mul_", "aten::div_", "aten::rsub", "aten::true_divide",
    "aten::floor_divide", "aten::neg_", "aten::reciprocal", "aten::rsqrt", "aten::sqrt_", "aten::square",
    "aten::exp_", "aten::exp2", "aten::sigmoid", "aten::sigmoid_", "aten::logit", "aten::tanh_",
    "aten::clamp", "aten::clamp_", "aten::clamp_min", "aten::clamp_max", "aten::clip", "aten::sign",
    "aten::minimum", "aten::maximum", "aten::fmin", "aten::fmax", "aten::lerp", "aten::addcmul",
    "aten::addcdiv", "aten::logical_not", "aten::logical_and", "aten::logical_or", "aten::logical_xor",
    "aten::bitwise_not", "aten::bitwise_and", "aten::bitwise_or", "aten::bitwise_xor", "aten::eq_", "aten::nan_to_num",
    "aten::fill_", "aten::zero_", "aten::copy_", "aten::mul_scalar", "aten::pow_", "aten::float_power",
    "aten::xlogy", "aten::frac", "aten::isclose", "aten::allclose", "aten::equal", "aten::masked_fill_",
    // ---- reductions ----
    "aten::mean", "aten::prod", "aten::amax", "aten::amin", "aten::argmax", "aten::argmin", "aten::logsumexp",
    "aten::var", "aten::std", "aten::var_mean", "aten::std_mean", "aten::norm", "aten::linalg_vector_norm",
    "aten::frobenius_norm", "aten::count_nonzero", "aten::median", "aten::mode", "aten::aminmax",
    // ---- linear algebra ----
    "aten::matmul", "aten::mm", "aten::bmm", "aten::baddbmm", "aten::addmm", "aten::addbmm", "aten::mv",
    "aten::dot", "aten::einsum", "aten::linear", "aten::bilinear", "aten::outer", "aten::tensordot",
    "aten::kron",
    // ---- nn functional: activations, normalisation, attention, convolution ----
    "aten::relu", "aten::relu_", "aten::relu6", "aten::leaky_relu", "aten::gelu", "aten::gelu_", "aten::silu",
    "aten::silu_", "aten::mish", "aten::elu", "aten::selu", "aten::celu", "aten::softplus", "aten::softsign",
    "aten::hardtanh", "aten::hardswish", "aten::hardsigmoid", "aten::glu", "aten::prelu", "aten::threshold",
    "aten::softmax", "aten::log_softmax", "aten::_softmax", "aten::_log_softmax", "aten::layer_norm",
    "aten::native_layer_norm", "aten::group_norm", "aten::batch_norm", "aten::instance_norm", "aten::rms_norm",
    "aten::normalize", "aten::dropout", "aten::dropout_", "aten::feature_dropout", "aten::alpha_dropout",
    "aten::scaled_dot_product_attention", "aten::_scaled_dot_product_attention", "aten::baddbmm_",
    "aten::conv1d", "aten::conv2d", "aten::_convolution", "aten::convolution", "aten::avg_pool1d",
    "aten::max_pool1d", "aten::adaptive_avg_pool1d", "aten::embedding_bag", "aten::cosine_similarity",
    "aten::pairwise_distance", "aten::cdist", "aten::multinomial", "aten::bernoulli", "aten::polar",
    "aten::view_as_real", "aten::view_as_complex", "aten::complex", "aten::real", "aten::imag",
};

const std::unordered_set<std::string>& allowed() {
  static const std::unordered_set<std::string> set(std::begin(kAllowed), std::end(kAllowed));
  return set;
}

}  // namespace

bool isAllowedOperator(const std::string& qualified) { return allowed().count(qualified) != 0; }

}  // namespace localleap
