// PLACEHOLDER: replaced by the sim model.
