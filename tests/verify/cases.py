r"""Labelled (completion, reference, equal?) cases for the verifier, each with the reason in a comment.

The label is the mathematically right verdict for a reader who takes the
completion's final answer: True when that answer equals the reference, False
when it does not or when the completion states none. It is not what any
verifier says; ``test_cases.py`` measures sftlab's and math-verify's
agreement with it.

Sections follow the patterns a real model writes: the lab's own forms,
final-answer markers, completions without one, several statements, several
boxes, separators, numbers, LaTeX (as math-verify's documentation lists it),
free-form text, and answers that must never be scored right.
"""

CASES = [
    # ------------------------------------------------------------ the lab's forms
    ("3 + 4 = 7\n#### 7", "7", True),  # GSM8K/lab line
    ("3 + 4 = 7\n#### 8", "7", False),  # wrong number after ####
    ("Step: 12 * 3 = 36\nThe answer is 36.", "36", True),  # the lab's closing sentence
    ("Step: 12 * 3 = 36\nThe answer is 35.", "36", False),  # wrong closing sentence
    ("#### 1,000", "1000", True),  # thousands separator in a whole number
    ("#### -5", "-5", True),  # negative
    ("#### -5", "5", False),  # sign matters
    ("#### 007", "7", True),  # leading zeros are the same integer
    ("#### 70", "7", False),  # a different integer
    ("The answer is 0.", "0", True),  # zero
    ("The answer is 0.", "00", True),  # 00 is zero
    ("The answer is 10.", "1", False),  # prefix of the reference is not the reference
    ("The answer is 1.", "10", False),  # the reference is not a prefix match either
    ("#### 18\nThe answer is 18.", "18", True),  # both forms agree
    ("#### 12\nWait, recompute.\nThe answer is 14.", "14", True),  # the last statement wins
    ("#### 12\nWait, recompute.\nThe answer is 14.", "12", False),  # the earlier one is superseded
    ("The answer is 3.5.", "7/2", True),  # decimal and fraction
    ("The answer is 3.5.", "3.50", True),  # trailing zero
    ("The answer is 3.5.", "3.6", False),  # different decimal
    ("#### 42 ", "42", True),  # trailing space
    ("a = 5\nb = 9\n#### 14", "14", True),  # lab arithmetic
    ("a = 5\nb = 9\n#### 45", "14", False),  # product instead of sum
    ("Total: 48/2 = 24\n#### 24", "24", True),  # intermediate numbers ignored
    ("Total: 48/2 = 24\n#### 24", "48", False),  # intermediate number is not the answer
    ("The answer is 1000000.", "1,000,000", True),  # separators in the reference
    ("The answer is 1,000,000.", "1000000", True),  # separators in the answer
    ("The answer is 100.", "1,000", False),  # a tenth of it
    # ------------------------------------------------------------ final-answer markers
    (r"So $\boxed{5}$.", "5", True),  # boxed
    (r"So $\boxed{5}$.", "6", False),  # boxed, wrong
    (r"Thus \boxed{\frac{1}{2}}", "0.5", True),  # boxed fraction vs decimal
    (r"Thus \boxed{\frac{1}{2}}", "1/2", True),  # boxed fraction vs slash fraction
    (r"Thus \boxed{\frac{1}{2}}", "1/3", False),  # different fraction
    (r"\boxed{\frac{\sqrt{2}}{2}}", r"\frac{1}{\sqrt{2}}", True),  # rationalized surd
    (r"\boxed{\sqrt{8}}", r"2\sqrt{2}", True),  # simplified radical
    (r"\boxed{\sqrt{8}}", r"3\sqrt{2}", False),  # wrong coefficient
    (r"\fbox{9}", "9", True),  # fbox is a box
    (r"\boxed {12}", "12", True),  # space before the brace
    ("The final answer is 17.", "17", True),  # final answer is
    ("The final answer is: 17", "17", True),  # with a colon
    ("The final answer is $17$. I hope it is correct.", "17", True),  # Minerva style
    ("The final answer is $18$. I hope it is correct.", "17", False),  # Minerva style, wrong
    ("Final Answer: 42", "42", True),  # Final Answer: x
    ("Final Answer: 41", "42", False),  # Final Answer: x, wrong
    ("**Final Answer:** 42", "42", True),  # markdown emphasis
    ("**Final Answer**\n\n42", "42", True),  # answer on the next line
    ("Answer: 3/4", "0.75", True),  # Answer:
    ("Answer: 3/4", "0.7", False),  # Answer:, rounded too far
    ("The answer is **42**.", "42", True),  # bold
    ("The answer is \\(x+1\\).", "1+x", True),  # inline math
    ("The answer is $x+1$.", "x-1", False),  # different polynomial
    ("the answer is: 9", "9", True),  # lower case, colon
    ("Therefore, the answer is 12 because 3 * 4 = 12.", "12", True),  # sentence goes on after the answer
    ("So the answers are 2 and 3.", "2, 3", True),  # two answers in words
    ("So the answers are 2 and 3.", "2", False),  # one of two is not the answer
    (r"The final answer is $\boxed{7}$", "7", True),  # statement with a box
    # ------------------------------------------------------------ no marker (lenient fallback)
    ("Final Answer \\[ 9 \\]", "9", True),  # display math after the word answer
    ("Answer \\[ 9 \\]", "9", True),  # the same without 'Final'
    ("Answer \\[ 9 \\]", "8", False),  # wrong
    ("Adding the three amounts gives 7,425,000", "7425000", True),  # a bare number closes the text
    ("Adding the three amounts gives 7,425,000", "7425", False),  # not the thousands
    ("Solving, we get $x = 12$", "12", True),  # closing inline math, an assignment
    ("Solving, we get $x = 12$", "13", False),  # wrong
    ("Therefore the probability is $\\frac{3}{8}$", "0.375", True),  # closing fraction
    ("Therefore the probability is $\\frac{3}{8}$", "3/7", False),  # wrong fraction
    ("First 2 + 3 = 5, then 5 * 4 = 20", "20", True),  # last number wins
    ("First 2 + 3 = 5, then 5 * 4 = 20", "5", False),  # intermediate number
    ("The total cost is $36.", "36", True),  # currency at the end
    ("The total cost is $36.", "63", False),  # digits swapped
    ("\\[ \\frac{7}{2} \\]", "3.5", True),  # display math only
    ("We find that the area equals 25 square units", "25", True),  # number then unit words
    ("Area: 25", "25", True),  # label: number
    ("Hence the sum is -14.", "-14", True),  # negative at the end
    ("Hence the sum is -14.", "14", False),  # sign lost
    ("It takes 3.5 hours", "3.5", True),  # decimal with unit
    ("It takes 3.5 hours", "3", False),  # truncated
    ("I am not sure how to solve this.", "4", False),  # no answer at all
    ("", "4", False),  # empty completion
    ("Let me think step by step", "4", False),  # no answer yet
    ("So we have $a=2$ and $b=3$, giving $a+b=5$", "5", True),  # last expression is an assignment
    ("the value is 50%", "50", True),  # percent (math-verify accepts the number)
    ("the value is 50%", "0.5", True),  # percent (and the fraction)
    ("the value is 50%", "5", False),  # wrong
    # ------------------------------------------------------------ several statements: the last wins; headings
    (
        "#### Step 1\nCompute 2+3.\n#### Final Answer\nThe answer is $\\boxed{5}$.",
        "5",
        True,
    ),  # headings are not answers
    ("#### Step 1: add\n2+3 = 5\n#### Step 2: double\n\\boxed{10}", "10", True),  # step headings
    ("#### Final Answer\n\\boxed{5}", "5", True),  # a heading before the box
    ("#### Final Answer\n\\boxed{5}", "Final Answer", False),  # the heading is not the answer
    ("#### Solution\nWe get 6.\n#### 6", "6", True),  # a real #### after a heading
    ("First $\\boxed{255}$ items per box. The final answer is $10,455$", "10455", True),  # later statement wins
    ("First $\\boxed{255}$ items per box. The final answer is $10,455$", "255", False),  # early box superseded
    ("The answer is 4. Wait, no: \\boxed{5}", "5", True),  # self-correction with a box
    ("\\boxed{5} Hmm, that is wrong. The answer is 6.", "6", True),  # self-correction in words
    ("\\boxed{5} Hmm, that is wrong. The answer is 6.", "5", False),  # the corrected one is not the answer
    ("#### 3\n#### 4", "4", True),  # two #### lines: the last
    ("########\n#### 9", "9", True),  # a rule line then the answer
    ("#### Summary of the work\nThe answer is 8.", "8", True),  # a long heading
    ("#### The answer is 8", "8", True),  # #### with an answer statement
    # ------------------------------------------------------------ several final boxes
    ("The roots are $\\boxed{2}$ and $\\boxed{3}$.", "2, 3", True),  # two roots
    ("The roots are $\\boxed{2}$ and $\\boxed{3}$.", "3, 2", True),  # order of a root set does not matter
    ("The roots are $\\boxed{2}$ and $\\boxed{3}$.", "3", False),  # only one root
    ("The roots are $\\boxed{2}$ and $\\boxed{3}$.", "2", False),  # only the other root
    ("$\\boxed{1}, \\boxed{2}, \\boxed{3}$", "1, 2, 3", True),  # three boxes, commas
    ("$x=\\boxed{-1}$ or $x=\\boxed{4}$", "-1, 4", True),  # 'or' between boxes
    ("\\boxed{1} then later \\boxed{2}", "2", True),  # separated by words: the last box
    ("\\boxed{1} then later \\boxed{2}", "1, 2", False),  # not one multi-part answer
    ("$\\boxed{2}$ and $\\boxed{5}$", "2, 4", False),  # one part wrong
    ("$\\boxed{\\frac12}$ and $\\boxed{3}$", "0.5, 3", True),  # parts compared mathematically
    # ------------------------------------------------------------ separators: thousands, tuples, intervals, sets
    (r"\boxed{(0,100)}", "100", False),  # an interval is not its endpoint
    (r"\boxed{(0,100)}", "(0,100)", True),  # the interval itself
    ("The answer is [1,100].", "1100", False),  # a closed interval is not a number
    ("The answer is [1,100].", "[1, 100]", True),  # the same interval, spaced
    ("The answer is (1,2).", "(1, 2)", True),  # ordered pair
    ("The answer is (1,2).", "(2, 1)", False),  # ordered pair in the other order
    ("The answer is 1,2.", "12", False),  # a list is not a number
    ("The answer is 1,234.", "1234", True),  # a whole number with a separator
    ("The answer is 12,345,678.", "12345678", True),  # several separators
    ("The answer is 1,23.", "123", False),  # not a thousands group
    (r"\boxed{\{1, 2, 3\}}", r"\{3, 2, 1\}", True),  # sets ignore order
    (r"\boxed{\{1, 2\}}", r"\{1, 2, 3\}", False),  # a smaller set
    (r"\boxed{[0, 1)}", r"[0, 1)", True),  # half-open interval
    (r"\boxed{[0, 1]}", r"[0, 1)", False),  # closed vs half-open
    (r"\boxed{(-\infty, 3]}", r"(-\infty, 3]", True),  # unbounded interval
    (r"\boxed{(-\infty, 3)}", r"(-\infty, 3]", False),  # open vs closed end
    (r"\boxed{(1, 2) \cup (3, 4)}", r"(1,2)\cup(3,4)", True),  # union of intervals
    (r"\boxed{(3, 5)}", "(3,5)", True),  # pair without spaces
    ("The answer is 1 000.", "1000", True),  # space as thousands separator
    ("The answer is 1 000.", "0", False),  # never a product 1 * 000
    (r"The answer is $1\,000$.", "1000", True),  # LaTeX thin space separator
    (r"The answer is $1{,}000$.", "1000", True),  # LaTeX braced comma separator
    # ------------------------------------------------------------ numbers
    ("The answer is 1.5e3.", "1500", True),  # scientific notation (not Euler's number)
    ("The answer is 1.5e3.", "1.5", False),  # the mantissa alone
    ("The answer is 2E-3.", "0.002", True),  # negative exponent
    (r"The answer is $1.5 \times 10^{3}$.", "1500", True),  # LaTeX scientific notation
    (r"The answer is $3 \times 10^{8}$.", "300000000", True),  # speed of light
    (r"The answer is $3 \times 10^{8}$.", "30000000", False),  # one zero short
    ("The answer is 2 1/2.", "5/2", True),  # mixed number
    ("The answer is 2 1/2.", "1", False),  # not 2 * 1/2
    (r"The answer is $2\frac{1}{2}$.", "2.5", True),  # LaTeX mixed number
    (r"The answer is $3\frac{3}{4}$.", "15/4", True),  # another mixed number
    ("The answer is 18 dollars.", "18", True),  # currency word
    ("The answer is 18 apples.", "18", True),  # count with its noun
    ("The answer is 19 apples.", "18", False),  # wrong count
    ("The answer is $18.", "18", True),  # dollar sign
    ("The answer is \\$18.00.", "18", True),  # escaped dollar, cents
    ("The answer is \\$18.50.", "18", False),  # not the same amount
    ("The answer is €25.", "25", True),  # euro sign
    ("The answer is 5 cm.", "5", True),  # unit
    ("The answer is 5 cm.", "5 m", False),  # different units
    ("The answer is 5 cm.", "5 cm", True),  # same unit
    (r"The answer is $12\text{ cm}^2$.", "12", True),  # LaTeX unit
    (r"The answer is $60^\circ$.", "60", True),  # degrees
    (r"The answer is $60^\circ$.", "30", False),  # other angle
    ("The answer is 45%.", "45", True),  # percent vs number
    ("The answer is 45%.", "0.45", True),  # percent vs fraction
    (r"The answer is $45\%$.", "45", True),  # LaTeX percent
    ("The answer is 45%.", "54", False),  # wrong percent
    ("The answer is 25 percent.", "25", True),  # percent as a word
    ("The answer is 0.333333.", "1/3", True),  # rounded to 6 places, as math-verify
    ("The answer is 0.3.", "1/3", False),  # rounded too far
    ("The answer is 3.14159265.", r"\pi", True),  # pi to 8 places
    ("The answer is 3.", r"\pi", False),  # pi is not 3
    ("The answer is five.", "5", True),  # number word
    ("The answer is six.", "5", False),  # wrong number word
    ("The answer is 0 pairs.", "0", True),  # zero with a noun is zero
    ("The answer is 0 pairs.", "5", False),  # zero is not five
    ("The answer is 0x.", "5", False),  # 0x is zero, not five
    ("The answer is 0 and 1.", "0", False),  # two values are not one
    ("The answer is -0.5.", "-1/2", True),  # negative fraction
    ("The answer is -0.5.", "1/2", False),  # sign
    ("The answer is .5.", "0.5", True),  # leading dot
    ("The answer is 1/4.", "0.25", True),  # slash fraction vs decimal
    ("The answer is 2/4.", "1/2", True),  # unreduced fraction
    ("The answer is 1/0.", "0", False),  # not a number
    (r"The answer is $-\frac{3}{4}$.", "-0.75", True),  # negative LaTeX fraction
    ("The answer is \u22123.", "-3", True),  # unicode minus sign
    (r"\boxed{10^{10^8}}", "10^{100000000}", True),  # a huge power written two ways
    (r"\boxed{10^{10^8}}", "10^{100000001}", False),  # a different huge power
    (r"\boxed{2^{10}}", "1024", True),  # power evaluated
    (r"\boxed{2^{10}}", "1023", False),  # off by one
    (r"\boxed{4^{5}}", "2^{10}", True),  # the same power, another base
    # ------------------------------------------------------------ LaTeX (math-verify's documented cases)
    (r"\boxed{\frac{\pi}{2}}", r"\pi/2", True),  # pi fraction
    (r"\boxed{\frac{\pi}{3}}", r"\pi/2", False),  # other fraction of pi
    (r"\boxed{\sqrt{3}/3}", r"\frac{1}{\sqrt{3}}", True),  # rationalized
    (r"\boxed{x^2+2x+1}", "(x+1)^2", True),  # expanded square
    (r"\boxed{x^2+2x+1}", "(x-1)^2", False),  # wrong sign
    (r"\boxed{2x+3y}", "3y+2x", True),  # commuted sum
    (r"\boxed{2x+3y}", "2y+3x", False),  # swapped variables
    (r"\boxed{x = 3}", "3", True),  # assignment vs value
    (r"\boxed{x = 3}", "4", False),  # wrong assignment
    (r"\boxed{y = 2x + 1}", "y = 1 + 2x", True),  # equation of a line
    (r"\boxed{y = 2x + 1}", "y = 2x - 1", False),  # wrong intercept
    (r"\boxed{x > 2}", r"(2, \infty)", True),  # inequality vs interval
    (r"\boxed{x \geq 2}", r"(2, \infty)", False),  # closed vs open
    (r"\boxed{3+4i}", "3+4i", True),  # complex number
    (r"\boxed{3-4i}", "3+4i", False),  # conjugate
    (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", True),  # vector
    (r"\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}", r"\begin{pmatrix} 2 \\ 1 \end{pmatrix}", False),  # other vector
    (
        r"\boxed{\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}}",
        r"\begin{pmatrix} 1 & 0 \\ 0 & 1 \end{pmatrix}",
        True,
    ),  # matrix
    (r"\boxed{\infty}", r"\infty", True),  # infinity
    (r"\boxed{\dfrac{3}{5}}", "0.6", True),  # dfrac
    (r"\boxed{\tfrac{3}{5}}", r"\frac{3}{5}", True),  # tfrac
    (r"\boxed{\frac{6}{10}}", r"\frac{3}{5}", True),  # unreduced LaTeX fraction
    (r"\boxed{\frac{6}{10}}", r"\frac{3}{4}", False),  # other fraction
    (r"\boxed{\sqrt{2}}", "1.414214", True),  # decimal approximation to 6 places
    (r"\boxed{\sqrt{2}}", "1.41", False),  # too rough
    (r"\boxed{e^{i\pi}}", "-1", True),  # Euler's identity
    (r"\boxed{\ln e}", "1", True),  # logarithm
    (r"\boxed{\log_2 8}", "3", True),  # log base 2
    (r"\boxed{\sin^2 x + \cos^2 x}", "1", True),  # identity
    (r"\boxed{\binom{5}{2}}", "10", True),  # binomial coefficient
    (r"\boxed{5!}", "120", True),  # factorial
    (r"\boxed{5!}", "24", False),  # wrong factorial
    (r"\boxed{a=1, b=2}", "b=2, a=1", True),  # a system's solution in another order
    (r"\boxed{a=1, b=2}", "a=2, b=1", False),  # swapped values
    (r"\boxed{\left( 3, \frac{\pi}{2} \right)}", r"(3, \frac{\pi}{2})", True),  # left/right delimiters
    (r"\boxed{\$ 32.50}", "32.5", True),  # LaTeX dollar amount
    (r"\boxed{-\frac{1}{2}}", "-0.5", True),  # negative fraction in a box
    (r"\boxed{\frac{-1}{2}}", r"-\frac{1}{2}", True),  # sign in the numerator
    (r"\boxed{12\sqrt{3}}", r"\sqrt{432}", True),  # radical simplified
    (r"\boxed{x \in [1, 2]}", "[1, 2]", True),  # membership in an interval
    # ------------------------------------------------------------ free-form text, Yes/No, alternatives
    ("The answer is on.", "No", False),  # a word is not a product o*n
    ("The answer is No.", "No", True),  # No
    ("The answer is no.", "No", True),  # case
    ("The answer is Yes.", "No", False),  # opposite
    (r"\boxed{\text{Yes}}", "yes", True),  # boxed text
    (r"\boxed{\text{No}}", "Yes", False),  # boxed opposite
    ("The answer is yes, because 4 is even.", "Yes", True),  # reason after the answer
    ("The answer is yes and no.", "Yes", False),  # a hedge
    ("**Yes**", "Yes", True),  # a completion that is only the answer
    ("The final answer is YES.", "Yes", True),  # upper case
    ("The answer is No positive integer solutions.", "No positive integer solutions", True),  # free-form reference
    (
        "The answer is there are no positive integer solutions.",
        "No positive integer solutions",
        True,
    ),  # leading 'there are'
    ("The answer is no real solutions.", "No positive integer solutions", False),  # a different claim
    ("The answer is 0.", "No positive integer solutions", False),  # a number for a text answer
    ("The answer is 252.", "C(10, 5), or equivalently 252", True),  # either form of the reference
    (r"The answer is $\binom{10}{5}$.", "C(10, 5), or equivalently 252", True),  # the other form, as a binomial
    ("The answer is 251.", "C(10, 5), or equivalently 252", False),  # neither form
    ("The answer is 6.", "3! (or 6)", True),  # X (or Y)
    ("The answer is 5.", "3! (or 6)", False),  # neither
    ("The answer is Monday.", "Monday", True),  # a word answer
    ("The answer is Tuesday.", "Monday", False),  # another word
    (r"\boxed{\text{Monday}}", "monday", True),  # boxed word, case
    ("The answer is the circle.", "circle", True),  # article dropped
    ("The answer is a square.", "circle", False),  # another shape
    ("The answer is (B).", "B", True),  # choice letter in parentheses
    ("The answer is (C).", "B", False),  # other choice
    (r"\boxed{B}", "B", True),  # boxed choice
    ("The answer is infinitely many.", "infinitely many", True),  # text
    ("The answer is finitely many.", "infinitely many", False),  # opposite text
    ("The answer is Alice.", "Alice", True),  # a name
    ("The answer is alice!", "Alice", True),  # punctuation and case
    ("The answer is Bob.", "Alice", False),  # another name
    ("The answer is even.", "odd", False),  # parity words
    ("The answer is odd.", "odd", True),  # parity words
    ("The answer is x.", "No", False),  # a symbol for a word
    ("No", "No", True),  # a bare one-word completion is its answer
    ("Maybe", "No", False),  # a bare other word
    ("The answer is n o.", "No", False),  # spaced letters are not the word
    # ------------------------------------------------------------ never scored right
    ("The answer is 2x.", "2", False),  # a term is not its coefficient
    ("The answer is 5x.", "5", False),  # likewise
    (r"\boxed{5\sqrt{2}}", "5", False),  # a radical term
    (r"\boxed{x}", "5", False),  # a variable
    (r"\boxed{x+1}", "1", False),  # an expression
    (r"\boxed{\frac{1}{2}x}", r"\frac{1}{2}", False),  # a coefficient
    ("The answer is 12 or 13.", "12", False),  # a hedge between two answers
    ("The answer is between 10 and 20.", "15", False),  # a range in words
    ("The answer is 1e.", "1", False),  # not scientific notation
    ("The answer is 2.5.", "2 1/2 apples", True),  # mixed number with a noun
    ("#### 1/2", "2", False),  # not 1 * 2
    ("#### 12", "1, 2", False),  # twelve is not the list 1, 2
    ("#### 1, 2", "12", False),  # the list is not twelve
    ("#### (1, 2)", "3", False),  # a pair is not its sum
    (r"\boxed{[1, 100]}", "100", False),  # an interval is not its endpoint
    (r"\boxed{\{5\}}", "6", False),  # a singleton set of another number
    ("The answer is 100%.", "100", True),  # percent of the number itself
    ("The answer is 10 000.", "100", False),  # never read as 10 * 000 or similar
    ("The answer is 1 000 000.", "1000000", True),  # space-grouped million
]
