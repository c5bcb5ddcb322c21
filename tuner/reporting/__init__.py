"""What a finished sweep shows: leaderboard, best grid, HTML report and its plots."""
