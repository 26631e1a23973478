"""Templates only where a decision allows them: extract, the encrypted store and index, subjects, matching, evaluation."""
