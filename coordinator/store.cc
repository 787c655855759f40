// PLACEHOLDER: replaced by the SQLite store.
#include "coordinator/store.h"
