"""Deep research jobs: plan -> search (one step per query) -> read sources -> a cited markdown report."""
