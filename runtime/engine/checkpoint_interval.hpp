#pragma once
// How often to checkpoint when failures come at a known rate: Daly's higher-order estimate of the
// optimal interval ("A higher order estimate of the optimum checkpoint interval for restart dumps",
// FGCS 22(3), 2006), which refines Young's sqrt(2 C M). docs/configuration.md gives the formula.

namespace lazarus::detail {

// The compute time between checkpoints that minimizes the expected run time, for a checkpoint that
// costs the application `cost` seconds and a mean time between failures of `mtbf` seconds:
//   C < 2M:  sqrt(2 C M) * (1 + sqrt(C / 2M) / 3 + (C / 2M) / 9) - C
//   else:    M
// 0 when `cost` is 0 (unknown yet: checkpoint at once, to measure it).
double daly_interval(double cost, double mtbf);

}  // namespace lazarus::detail
