"""Sigma rules on Reynard's engine: loading (pySigma), field mapping, conversion to the query AST,
correlations over sliding windows. See docs/sigma.md."""
