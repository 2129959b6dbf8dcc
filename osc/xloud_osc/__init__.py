"""openstackclient plugin for XLoud Nova's live adjust."""
