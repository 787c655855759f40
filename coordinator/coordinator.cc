// PLACEHOLDER: replaced by the coordinator loop.
