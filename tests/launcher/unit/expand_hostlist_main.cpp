// Prints the host names of each hostlist expression given, one per line: the Slurm tests compare this
// with `scontrol show hostnames`.
#include <cstdio>
#include <exception>

#include "launcher/resources/hostlist.hpp"

int main(int argc, char** argv) {
  try {
    for (int i = 1; i < argc; ++i) {
      for (const auto& name : lazarus::launcher::expand_hostlist(argv[i])) std::printf("%s\n", name.c_str());
    }
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "%s\n", error.what());
    return 1;
  }
}
