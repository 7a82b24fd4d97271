// Module Tasks — see DESIGN.md §1.
