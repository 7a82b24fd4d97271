// Module LanguageModels — see DESIGN.md §1.
