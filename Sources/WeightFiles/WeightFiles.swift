// Module WeightFiles — see DESIGN.md §1.
