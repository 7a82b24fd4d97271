// Module CorrSteer — see DESIGN.md §1.
