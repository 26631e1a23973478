"""What happens to data over time: requests from receipt to confirmation, retention, releases and their consumers."""
