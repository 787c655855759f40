// PLACEHOLDER: replaced by the methods.
