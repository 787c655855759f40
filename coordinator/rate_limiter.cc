// ImmediateRateLimiter is header-only; this file keeps the rate* sources of cs_coordinator.
#include "coordinator/rate_limiter.h"
