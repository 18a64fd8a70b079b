"""The real-time actor/learner: a deadline-monitored control loop process feeding a learner
process through shared memory, with weights flowing back without ever blocking the loop."""
