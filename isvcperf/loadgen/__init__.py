"""The code that runs inside Locust.

A locustfile imports `isvcperf.loadgen.user.InferenceUser` (importing it registers the
isvcperf plugin on Locust's events); a locustfile of your own can subclass it. This
package itself imports nothing from Locust, because importing Locust monkey-patches the
whole process with gevent — right for a Locust process, wrong for the CLI or the tests.
"""
