"""Qt widgets: the SAM2 widget, the evaluate widget and the controller that runs their work in threads."""
