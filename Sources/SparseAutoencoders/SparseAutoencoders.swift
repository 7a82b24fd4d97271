// Module SparseAutoencoders — see DESIGN.md §1.
