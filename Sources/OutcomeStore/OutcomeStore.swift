// OutcomeStore module.
