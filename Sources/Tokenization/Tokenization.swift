// Module Tokenization — see DESIGN.md §1.
