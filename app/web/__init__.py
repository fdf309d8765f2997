"""The browser faces of the tutor: the student chat page, the lecturer dashboard, the widget."""
