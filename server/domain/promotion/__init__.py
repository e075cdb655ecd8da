"""Tools that help promoters sell: poster templates, materials, announcements, action items."""
