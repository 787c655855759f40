// PLACEHOLDER: replaced by the worker loop.
