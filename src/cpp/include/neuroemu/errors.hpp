// Error types of the engine. Each derives from the std class that pybind11 maps to the matching Python
// builtin, so that an uncaught engine error still arrives as ValueError / RuntimeError; the bindings map
// them onto neuroemu's own exception classes.
#pragma once

#include <stdexcept>
#include <string>

namespace neuroemu {

// A user-facing argument or network description is invalid (-> neuroemu.ConfigError, a ValueError).
class ConfigError : public std::invalid_argument {
public:
    explicit ConfigError(const std::string& what) : std::invalid_argument(what) {}
};

// An input value is not a finite event count >= 0 (-> neuroemu.InputError, a ValueError).
class InputError : public ConfigError {
public:
    explicit InputError(const std::string& what) : ConfigError(what) {}
};

// A run was cancelled from outside (Ctrl-C in Python) before it finished.
class Cancelled : public std::runtime_error {
public:
    Cancelled() : std::runtime_error("run cancelled") {}
};

}  // namespace neuroemu
