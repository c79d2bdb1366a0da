#include "runtime/engine/checkpoint_interval.hpp"

#include <cmath>

namespace lazarus::detail {

double daly_interval(double cost, double mtbf) {
  if (cost <= 0 || mtbf <= 0) return 0;
  if (cost >= 2 * mtbf) return mtbf;
  const double ratio = cost / (2 * mtbf);
  return std::sqrt(2 * cost * mtbf) * (1 + std::sqrt(ratio) / 3 + ratio / 9) - cost;
}

}  // namespace lazarus::detail
