"""Views shared by the report and the dashboard: one chart model (bars with the trials behind
them) and one SVG renderer, drawn from the same rows as the tables."""
