#include "backends/hdf5/h5_handle.hpp"

namespace lazarus::backends {
namespace {

herr_t append_message(unsigned /*index*/, const H5E_error2_t* error, void* text_pointer) {
  auto& text = *static_cast<std::string*>(text_pointer);
  if (!text.empty()) text += "; ";
  text += error->func_name ? error->func_name : "?";
  text += ": ";
  text += error->desc ? error->desc : "unknown HDF5 error";
  return 0;
}

}  // namespace

std::string h5_error_stack_text() {
  std::string text;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, append_message, &text);
  return text.empty() ? "HDF5 reported an error without details" : text;
}

H5QuietErrors::H5QuietErrors() noexcept {
  H5Eget_auto2(H5E_DEFAULT, &previous_function_, &previous_data_);
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

H5QuietErrors::~H5QuietErrors() { H5Eset_auto2(H5E_DEFAULT, previous_function_, previous_data_); }

}  // namespace lazarus::backends
