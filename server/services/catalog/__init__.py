"""The store's catalog: pushes of categories and products, their names for rules and reports,
and the product ids orders named that the catalog does not know."""
