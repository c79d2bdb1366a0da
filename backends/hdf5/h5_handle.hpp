#pragma once
// RAII owners for HDF5 identifiers and the checks that turn HDF5's negative returns into exceptions
// carrying HDF5's own error text. Nothing outside backends/hdf5 closes an HDF5 handle.
#include <hdf5.h>

#include <string>
#include <string_view>
#include <utility>

namespace lazarus::backends {

// Owns one hid_t and closes it with `Close` (H5Fclose, H5Dclose, ...).
template <herr_t (*Close)(hid_t)>
class H5Handle {
 public:
  H5Handle() = default;
  explicit H5Handle(hid_t id) noexcept : id_(id) {}
  ~H5Handle() { reset(); }
  H5Handle(H5Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  H5Handle& operator=(H5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;

  hid_t get() const noexcept { return id_; }
  void reset() noexcept {
    if (id_ >= 0) Close(id_);
    id_ = H5I_INVALID_HID;
  }
  // Closes now and reports failure (closing a file flushes it, so its error matters).
  herr_t close() noexcept {
    herr_t status = id_ >= 0 ? Close(id_) : 0;
    id_ = H5I_INVALID_HID;
    return status;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using H5File = H5Handle<H5Fclose>;
using H5Dataset = H5Handle<H5Dclose>;
using H5Dataspace = H5Handle<H5Sclose>;
using H5PropertyList = H5Handle<H5Pclose>;
using H5Attribute = H5Handle<H5Aclose>;
using H5Datatype = H5Handle<H5Tclose>;

// The messages on HDF5's current error stack, innermost last, on one line.
std::string h5_error_stack_text();

// Throws `Exception` with "<what>: <HDF5 error text>" when `status` is negative; returns it otherwise.
template <class Exception, class Status>
Status h5_check(Status status, std::string_view what) {
  if (status < 0) throw Exception(std::string(what) + ": " + h5_error_stack_text());
  return status;
}

// While alive, HDF5 does not print its error stack to stderr (Lazarus reports errors itself);
// restores the previous handler afterwards, so an application's own HDF5 settings are kept.
class H5QuietErrors {
 public:
  H5QuietErrors() noexcept;
  ~H5QuietErrors();
  H5QuietErrors(const H5QuietErrors&) = delete;
  H5QuietErrors& operator=(const H5QuietErrors&) = delete;

 private:
  H5E_auto2_t previous_function_ = nullptr;
  void* previous_data_ = nullptr;
};

}  // namespace lazarus::backends
