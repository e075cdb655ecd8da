"""Pure rules of commissions: the calculation, its lines, rules, the guard and the life cycle."""
