"""fenxiao server: app factory, configuration, auth, errors and the layers below them."""
