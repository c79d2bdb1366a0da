#pragma once
// The whole public API of Lazarus: #include <lazarus/lazarus.hpp>.
#include <lazarus/element_type.hpp>
#include <lazarus/errors.hpp>
#include <lazarus/options.hpp>
#include <lazarus/session.hpp>
#include <lazarus/version.hpp>
