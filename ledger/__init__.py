"""Write side of grant-ledger: money, policy, rules, aggregates and the application."""
