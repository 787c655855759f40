// PLACEHOLDER: replaced by the sandbox.
