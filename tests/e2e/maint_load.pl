#!/usr/bin/perl
# maint_load.pl — the workload of maintenance.bats (and pressure), in one
# process per role so that thousands of cells need no fork each.
#
#   write  DIR WRITER NROWS NQUAL COUNTER LOG [START] [MODE]
#       writes the cells DIR/r<row>/cf/w<WRITER>q<q> (row < NROWS, q < NQUAL)
#       with value "c=<COUNTER> <cell> <pad>", rows in a scattered order
#       starting at START; after each close(2) that returned success appends
#       "<cell> <COUNTER>" to LOG (so the log only holds acknowledged cells).
#       MODE "all" (default): retries a failed cell up to 20 times, exits 1 if
#       one never succeeded; "crash": stops at the first failure (exit 0);
#       "pressure": never retries, counts failures by errno, runs until
#       the file $HR_STOP exists; prints "errors: <errno>=<count> ..." at the end.
#   verify DIR MODE LOG...
#       MODE "exact": every cell in the logs holds the value of its highest
#       logged counter; "atleast": a value at least that new.
#   read   DIR LOG... — until the file $HR_STOP exists: list DIR (no duplicate,
#       every row that a log showed before the listing started is there) and
#       cat logged cells (a value at least as new as logged). Exits 1 on the
#       first wrong answer; prints how many listings and reads it did.
use strict;
use warnings;
use Errno qw(EEXIST EAGAIN);
use IO::Handle;
use Time::HiRes qw(time sleep);

my $PAD = 'x' x 120;

sub val { my ($cell, $c) = @_; return "c=$c $cell $PAD\n"; }

sub parse_counter {
	my ($v, $cell) = @_;
	return undef unless defined $v && $v =~ /^c=(\d+) (\S+) /;
	return undef unless $2 eq $cell;
	return $1;
}

sub slurp {
	my ($path) = @_;
	open(my $f, '<', $path) or return (undef, "$!");
	local $/;
	my $v = <$f>;
	close($f) or return (undef, "close: $!");
	return (defined $v ? $v : '', undef);
}

# reads LOG files; returns { cell => max counter }
sub read_logs {
	my %m;
	for my $log (@_) {
		open(my $f, '<', $log) or next;
		while (my $l = <$f>) {
			next unless $l =~ /^(\S+) (\d+)$/; # a torn last line is skipped
			$m{$1} = $2 if !defined $m{$1} || $2 > $m{$1};
		}
		close $f;
	}
	return \%m;
}

sub cmd_write {
	my ($dir, $w, $nrows, $nq, $counter, $log, $start, $mode) = @_;
	$start //= 0;
	$mode //= 'all';
	open(my $L, '>>', $log) or die "log $log: $!";
	$L->autoflush(1);
	my $stop = $ENV{HR_STOP} // '/nonexistent';
	my ($ok, $failed, %errs) = (0, 0);
	my $step = 7919; # prime: k * step mod nrows visits every row once
	my $n = $nrows * $nq;
	for (my $k = 0; $k < $n || $mode eq 'pressure'; $k++) {
		last if $mode eq 'pressure' && $k % 16 == 0 && -e $stop;
		my $row = (($start + $k) * $step) % $nrows;
		my $q = int((($start + $k) % $n) / $nrows);
		my $c = $mode eq 'pressure' ? $counter + $k : $counter;
		my $rd = sprintf("%s/r%06d", $dir, $row);
		my $cell = sprintf("r%06d/cf/w%dq%d", $row, $w, $q);
		my $path = "$dir/$cell";
		my $tries = 0;
		for (;;) {
			my $err;
			if (!-d "$rd/cf") {
				mkdir $rd or $! == EEXIST or $err = "mkdir $rd: $!";
				!$err and (mkdir "$rd/cf" or $! == EEXIST or $err = "mkdir $rd/cf: $!");
			}
			if (!$err) {
				if (open(my $f, '>', $path)) {
					print $f val($cell, $c);
					close($f) or $err = "close $cell: $!";
				} else {
					$err = "open $cell: $!";
				}
			}
			if (!$err) {
				print $L "$cell $c\n";
				$ok++;
				last;
			}
			my $en = $! + 0;
			$errs{$en}++;
			if ($mode eq 'crash') {
				print "writer $w: $err (after $ok cells)\n";
				exit 0;
			}
			if ($mode eq 'pressure') {
				print STDERR "writer $w: $err\n" if $errs{$en} <= 3;
				$failed++;
				last;
			}
			print STDERR "writer $w: $err (try $tries)\n";
			if (++$tries >= 20) {
				$failed++;
				last;
			}
			sleep(0.2);
		}
	}
	my $e = join(' ', map { "$_=" . $errs{$_} } sort keys %errs);
	print "writer $w: $ok cells written, $failed failed; errors: $e\n";
	exit($mode eq 'all' && $failed ? 1 : 0);
}

sub cmd_verify {
	my ($dir, $mode, @logs) = @_;
	my $m = read_logs(@logs);
	my ($n, $bad) = (0, 0);
	for my $cell (sort keys %$m) {
		$n++;
		my ($v, $err) = slurp("$dir/$cell");
		my $c = defined $v ? parse_counter($v, $cell) : undef;
		my $want = $m->{$cell};
		if (!defined $c || ($mode eq 'exact' ? $c != $want : $c < $want)) {
			$bad++;
			if ($bad <= 10) {
				my $got = defined $v ? substr($v, 0, 40) : "error $err";
				$got =~ s/\n/\\n/g;
				print "$cell: got '$got', want counter " .
				    ($mode eq 'exact' ? '' : '>= ') . "$want\n";
			}
		}
	}
	print "verified $n cells ($mode), $bad bad\n";
	exit($bad || $n == 0 ? 1 : 0);
}

# the counter the writers are writing now (0 if no pass file)
sub pass {
	my $p = $ENV{HR_PASS} // return 0;
	open(my $f, '<', $p) or return 0;
	my $c = <$f> // 0;
	chomp $c;
	return $c + 0;
}

sub cmd_read {
	my ($dir, @logs) = @_;
	my ($lists, $reads, $midway) = (0, 0, 0);
	my $stop = $ENV{HR_STOP} // die "HR_STOP not set\n";
	while (!-e $stop) {
		my $m = read_logs(@logs);
		my %rows;
		$rows{ (split m{/}, $_)[0] } = 1 for keys %$m;
		opendir(my $d, $dir) or do { print "reader: opendir $dir: $!\n"; exit 1; };
		my (%seen, $prev);
		while (defined(my $e = readdir $d)) {
			next if $e eq '.' || $e eq '..';
			if ($seen{$e}++) {
				print "reader: $e listed twice in one listing\n";
				exit 1;
			}
		}
		closedir $d;
		for my $r (keys %rows) {
			next if $seen{$r};
			print "reader: row $r (acknowledged before the listing) missing from it\n";
			exit 1;
		}
		$lists++;
		my @cells = keys %$m;
		for (1 .. 20) {
			last unless @cells;
			my $cell = $cells[int(rand(@cells))];
			my ($v, $err) = slurp("$dir/$cell");
			if (!defined $v) {
				print "reader: cat $cell: $err\n";
				exit 1;
			}
			# Between a writer's open(O_TRUNC) and its write the cell is
			# empty, for every reader on the mount as on ext4; allowed
			# only while a pass that rewrites this cell runs (the pass
			# file is written before that pass starts, so reading it
			# after the value cannot miss it).
			if ($v eq '' && pass() > $m->{$cell}) {
				$midway++;
				next;
			}
			my $c = parse_counter($v, $cell);
			if (!defined $c || $c < $m->{$cell}) {
				print "reader: $cell: '" . substr($v, 0, 30) . "', want >= $m->{$cell}\n";
				exit 1;
			}
			$reads++;
		}
		sleep(0.05);
	}
	print "reader: $lists listings, $reads reads ($midway mid-overwrite), all right\n";
	exit 0;
}

my $cmd = shift @ARGV // '';
if ($cmd eq 'write') { cmd_write(@ARGV) }
elsif ($cmd eq 'verify') { cmd_verify(@ARGV) }
elsif ($cmd eq 'read') { cmd_read(@ARGV) }
else { die "usage: $0 write|verify|read ...\n" }
