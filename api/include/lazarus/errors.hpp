#pragma once
// Every error Lazarus reports is a lazarus::Error. A collective call that fails on one rank throws on
// every rank, with the same class, so that `catch (const lazarus::CorruptCheckpoint&)` behaves alike
// everywhere.
#include <stdexcept>
#include <string>

namespace lazarus {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A bad Options value or LAZARUS_* environment variable.
class ConfigError : public Error {
 public:
  using Error::Error;
};

// No complete checkpoint exists (or not the version asked for).
class NoCheckpoint : public Error {
 public:
  using Error::Error;
};

// Checkpoint data exist but do not verify: missing or truncated file, checksum mismatch, bad manifest.
class CorruptCheckpoint : public Error {
 public:
  using Error::Error;
};

// The protected regions do not match what is stored (region missing, another size, type or shape,
// another rank count), or an API call names an unknown or duplicate region.
class MismatchError : public Error {
 public:
  using Error::Error;
};

// The file system or a library failed: cannot create, write, fsync or rename; disk full.
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace lazarus
