"""Pure rules of a program's settings and their JSON document."""
